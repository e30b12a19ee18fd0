// End-to-end tests run whole pipelines on the local stack (jest applies testTimeout only globally).
jest.setTimeout(300_000);
