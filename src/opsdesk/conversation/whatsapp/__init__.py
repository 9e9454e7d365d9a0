"""WhatsApp Cloud API channel: a workspace connects its WhatsApp Business number; Meta's signed webhook brings
customer messages into the conversation runtime and the replies go out through the Graph API (docs/whatsapp.md).
"""
