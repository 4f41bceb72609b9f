"""What is kept about jobs and the machine: the monitor, memory guard, history, reports, health
and the advisor. Imports backends, segments, media and core, never the jobs or front ends."""
