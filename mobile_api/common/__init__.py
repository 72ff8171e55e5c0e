"""What every role uses: login and tokens, my account and notifications, uploads and file links."""
