"""The vocabulary every layer shares: errors (and the one translation of PyAV's), job options,
the segment, the job folder's layout, atomic writes, periodic samplers, the job's resources.
Imports nothing of RenderRush's outside `renderrush.core`."""
