"""Jobs: planning (one probe, the advisor, segments), the engine that runs a plan on a backend
under a recording, comparisons and their results. Imports every layer below, no front end."""
