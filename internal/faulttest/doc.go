// Package faulttest holds the fault-injection suite: the control plane's
// real parts (lifecycle, embedded queue, API with its trigger routes, the
// Functions-host stand-in firing the watchdog and redelivery timers, and
// Resource Processor agents) wired around a scriptable bundle runner, with
// faults injected: a processor killed mid-step, dead-lettered requests,
// cancellations, transient bundle errors, duplicate retries. Every test
// ends with no operation left in progress. The package has only tests.
package faulttest
