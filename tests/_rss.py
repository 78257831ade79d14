"""A child process's own peak RSS.

``ru_maxrss`` is no use in a child that pytest starts: Linux carries the parent's high-water
mark across ``exec``, so a child of a large pytest worker reports the worker's memory. The
kernel's ``VmHWM`` belongs to the child's own address space, which ``exec`` makes anew.
"""

PEAK_RSS_SOURCE = """
def PEAK_RSS_KIB():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")
"""
"""Python source defining ``PEAK_RSS_KIB()`` (the process's peak RSS in KiB), for a child's
code to start with."""
