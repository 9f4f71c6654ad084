//! The book (`docs/book/`), whose code blocks are compiled and run as doctests.
