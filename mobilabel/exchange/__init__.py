"""Getting the result out: the library as class folders or Label Studio tasks, and answers back in."""
