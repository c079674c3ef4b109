"""The core: experiments, runs, the run registry, registration, events."""
