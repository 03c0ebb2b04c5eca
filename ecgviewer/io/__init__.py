"""Reading and writing images and signals. No Qt here."""
