// Preloaded (--import) into every process the chaos runner starts: it exits when the runner is gone (its stdin pipe closes), so a runner killed outright leaves no server behind.
process.stdin.on('end', () => process.exit(1));
process.stdin.on('error', () => process.exit(1));
process.stdin.resume();
// Reading stdin must not by itself keep a process alive that has nothing else to do.
(process.stdin as { unref?: () => void }).unref?.();
