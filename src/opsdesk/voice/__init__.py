"""Voice desk: a bank's phone line answered on premises — SIP/RTP calls, speech in and out, banking dialogue."""
