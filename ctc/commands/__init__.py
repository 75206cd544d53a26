"""The commands every modality's program shares: train, evaluate, transcribe / recognize, and
their options (``ctc.commands.app.Program`` builds a program from a modality)."""
