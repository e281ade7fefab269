"""Exchange facts known without an API call: time zones, closes, data delays, calendars."""
