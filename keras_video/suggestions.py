"""The hint an unknown name's error ends with: the closest known name, so a typo
("s3dg.kinetic400", "clases") is one look away from its fix."""
import difflib


def did_you_mean(name, known):
    """" (did you mean 'x'?)" for the known name closest to `name`, or "" where none is close."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
