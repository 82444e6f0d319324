# -*- coding: utf-8 -*-
"""Make the checkout importable as ansible_collections.sacred_brain.llm_gateway.

.collections/ansible_collections/sacred_brain/llm_gateway links to the repository
root. site-packages also holds an ``ansible_collections`` namespace package (the
collections of the ``ansible`` package); both are portions of the same namespace,
so putting .collections first on sys.path is enough.
"""

import os
import sys

_COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '.collections'))
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
