"""Shared by the benchmarks that measure a fresh interpreter: the source of ``peak_gb()``, to
paste into the code run with ``python -c`` (a child measures itself)."""

PEAK_GB = '''
import resource

def peak_gb():
    # VmHWM: this process's own high-water mark (ru_maxrss would include the parent's memory
    # at the fork, which Linux carries across exec)
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
'''
