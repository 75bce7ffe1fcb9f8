/* SPDX-License-Identifier: MIT */
/*
 * The reference monitor's audit log (`mvm run --audit FILE`): one JSON
 * object per line and per decision,
 *
 *   {"time":"2026-12-03T09:14:07.123Z","job":"4f1c...","device":"vsock",
 *    "request":{"op":"connect","port":22},"rule":"port connect deny 22 kill",
 *    "line":3,"decision":"kill"}
 *
 * Each line is written with one write(2) to an O_APPEND file and made
 * durable with fdatasync(2) before audit_log() returns, and the monitor
 * acts on a decision only after that: a crash of mvm (or of the host) loses
 * no decision that took effect. If the log cannot be written the monitor
 * stops the VM (fail closed).
 */
#ifndef MVM_AUDIT_H
#define MVM_AUDIT_H

#include <stddef.h>

#include <jansson.h>

struct audit;

/* Open (create, append to) path. Returns 0 or -errno with err set. */
int audit_open(const char *path, const char *job_id, struct audit **out,
	       char *err, size_t errlen);

/*
 * Log one decision. request is a JSON object describing what the guest
 * asked for; audit_log takes over the reference (json_decref), even on
 * failure. rule may be NULL (no rule: mvm's own ports, learning mode),
 * line 0 for none. Returns 0 or -errno. a == NULL: no log, returns 0.
 */
int audit_log(struct audit *a, const char *device, json_t *request,
	      const char *rule, unsigned line, const char *decision);

void audit_close(struct audit *a);

/* Pure: format the line audit_log would write (without the time stamp
 * when time_iso is NULL). Returns a malloc'd string ending in '\n'. */
char *audit_format(const char *time_iso, const char *job_id, const char *device,
		   json_t *request, const char *rule, unsigned line,
		   const char *decision);

#endif
