"""What wraps every request: the Host check and security headers, the token and sessions, the upload limit, metrics."""
