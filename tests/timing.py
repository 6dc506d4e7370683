"""How long the connector tests wait on a sandbox, chosen so that a loaded machine cannot change a test's outcome.

A "timeout" fault holds the sandbox's answer for FAULT_STALL seconds; a connector under such a fault is given
FAULT_CLIENT_TIMEOUT. The client's timeout applies to every request of the test, faulted or not, so it must be long
enough that an ordinary answer never runs into it on a busy CI machine (0.3 s and 0.4 s did: the stop-22 CI failed on
it), and the stall far longer than it, so that the fault always fires. The stalled sandbox thread is a daemon that
nobody waits for: the test waits FAULT_CLIENT_TIMEOUT per fault, never FAULT_STALL.
"""

FAULT_CLIENT_TIMEOUT = 2.0
FAULT_STALL = 30.0
