"""unav: dense audio-visual event localization (UnAV-100), from videos to localized events."""

__version__ = "0.1.0"
