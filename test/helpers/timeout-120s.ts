// Integration tests talk to real services on a shared 2-core machine (jest applies testTimeout only globally).
jest.setTimeout(120_000);
