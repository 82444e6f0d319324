# -*- coding: utf-8 -*-
# Copyright: (c) 2025, sacred_brain.llm_gateway contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Connection options shared by every module that talks to LiteLLM's admin API.
    DOCUMENTATION = r'''
options:
  api_url:
    description:
      - Base URL of the LiteLLM proxy, without a path.
      - The admin API (C(/key/*), C(/user/*), C(/team/*)) needs a proxy with a database (C(DATABASE_URL)).
    type: str
    default: http://127.0.0.1:4000
  master_key:
    description:
      - "The proxy's master key, sent as C(Authorization: Bearer ...)."
      - If not set, the value of the E(LITELLM_MASTER_KEY) environment variable is used.
      - Never logged and never part of a result.
    type: str
  timeout:
    description:
      - Seconds to wait for each answer of the proxy.
    type: float
    default: 30
  validate_certs:
    description:
      - Whether to verify the proxy's TLS certificate when O(api_url) is C(https://).
      - Prefer O(ca_path) over turning this off; V(false) gives a warning, since the master key then goes to
        whoever answers.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificates that signed the proxy's certificate, for example a
        corporate bundle such as C(/etc/ssl/certs/ca-certificates.crt).
    type: path
  use_proxy:
    description:
      - Whether to honour the C(http_proxy), C(https_proxy) and C(no_proxy) environment variables.
      - "When not set, they are honoured except for a loopback O(api_url) (C(localhost), C(127.0.0.0/8), C(::1)):
        a proxy cannot reach this host's loopback, and Python would send the master key to the proxy when
        C(no_proxy) does not list the address."
    type: bool
  allow_insecure_http:
    description:
      - Accept an C(http://) O(api_url) whose host is not a loopback address (with a warning).
      - By default such a URL fails, because the master key would cross the network in cleartext.
        Use C(https://), or run the modules on the gateway against C(http://127.0.0.1:4000).
    type: bool
    default: false
  retries:
    description:
      - How many times a request is sent again after a connection error, a timeout or an
        HTTP 5xx answer, with exponential backoff (0.5 s, 1 s, 2 s, ...).
      - A 5xx answer that says why it will not pass (no database connected, a LiteLLM Enterprise feature
        without a licence) is not retried.
      - V(0) disables retries.
      - Requests that create something are safe to retry; see the module notes.
    type: int
    default: 3
notes:
  - All modules of the C(litellm) action group can get their connection options once through
    C(module_defaults) with C(group/sacred_brain.llm_gateway.litellm).
  - "Errors are explained, with LiteLLM's own message: HTTP 401 as 'the master key was rejected by <api_url>';
    HTTP 403 as a refusal of that request (not allowed for this key, custom key values disabled, or an
    Enterprise feature); a proxy without a database as such; HTTP 404 as not found; timeouts, refused
    connections and answers that are not JSON each with their own message."
  - A delete whose object is already gone (for example a retry whose first attempt was applied but whose
    answer was lost) counts as done.
'''

    # Attributes of the modules that change things (check mode and diff supported).
    ATTRIBUTES = r'''
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
    support: full
    details:
      - In check mode only read requests (C(GET)) are sent to the proxy.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: full
    details:
      - The diff shows settings only, never a key value.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
  action_group:
    description: Use C(group/sacred_brain.llm_gateway.litellm) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - sacred_brain.llm_gateway.litellm
'''

    # Attributes of the read-only modules.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details:
      - This action does not modify state.
  action_group:
    description: Use C(group/sacred_brain.llm_gateway.litellm) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - sacred_brain.llm_gateway.litellm
'''
