// Unit tests do no network I/O, but some open PGlite (PostgreSQL compiled to WebAssembly), which
// takes several seconds on a busy 2-core machine: jest's 5 s default then fails them spuriously.
jest.setTimeout(30_000);
