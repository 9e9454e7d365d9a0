"""The order desk in conversation: the order flow graph, its handlers, and what customers are told."""
