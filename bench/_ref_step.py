"""Per-step time of the reference (drytorch 0.1.0rc5) against a hand loop.

Run by bench/train_step.py with ``--python`` pointing to a virtual
environment where the reference is installed; it prints JSON rows. The
measurement is bench/_drytorch_variants.py, written against the public API
that the reference and this project share.
"""

from __future__ import annotations

import _common
import _drytorch_variants


def main() -> None:
    cases, repeats = _common.parse_cases()
    _common.one_thread()
    for case in cases:
        _common.emit(
            _drytorch_variants.rows(case, repeats, 'reference 0.1.0rc5')
        )


if __name__ == '__main__':
    main()
