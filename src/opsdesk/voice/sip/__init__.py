"""SIP signalling for the voice desk: messages, SDP, transactions, dialogs and the answering user agent (UDP)."""
