"""What the planner computed and kept: forecast runs, recommendation runs, learning cycles and the weights in force."""
