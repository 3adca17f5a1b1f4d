"""Development only: the local stack (emulator, serving, browser) and the demo. Reads cdk.out/, never the stacks."""
