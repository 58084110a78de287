"""What the routes run in this server: the job and export runners, predict batching, thumbnails, the heap policy."""
