"""Order desk: chat and WhatsApp-style orders become confirmed orders, delivery orders and invoices."""
