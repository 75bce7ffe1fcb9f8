/* SPDX-License-Identifier: MIT */
/* The audit log: contract in audit.h. */
#define _GNU_SOURCE
#include "vmm/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct audit {
	int fd;
	char *job_id;
};

int audit_open(const char *path, const char *job_id, struct audit **out,
	       char *err, size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a || !(a->job_id = strdup(job_id))) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
		     0600);
	if (a->fd < 0) {
		int e = errno;

		snprintf(err, errlen, "--audit %s: %s", path, strerror(e));
		free(a->job_id);
		free(a);
		return -e;
	}
	*out = a;
	return 0;
}

char *audit_format(const char *time_iso, const char *job_id, const char *device,
		   json_t *request, const char *rule, unsigned line,
		   const char *decision)
{
	json_t *o = json_object();
	char *s, *nl;
	size_t n;

	if (!o)
		return NULL;
	if (time_iso)
		json_object_set_new(o, "time", json_string(time_iso));
	json_object_set_new(o, "job", json_string(job_id));
	json_object_set_new(o, "device", json_string(device));
	json_object_set(o, "request", request ? request : json_null());
	json_object_set_new(o, "rule", rule ? json_string(rule) : json_null());
	if (line)
		json_object_set_new(o, "line", json_integer(line));
	json_object_set_new(o, "decision", json_string(decision));
	/* Compact and ASCII-only: a guest-chosen path cannot break the line
	 * (jansson escapes control characters and newlines). */
	s = json_dumps(o,
		       JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return NULL;
	n = strlen(s);
	nl = realloc(s, n + 2);
	if (!nl) {
		free(s);
		return NULL;
	}
	nl[n] = '\n';
	nl[n + 1] = '\0';
	return nl;
}

int audit_log(struct audit *a, const char *device, json_t *request,
	      const char *rule, unsigned line, const char *decision)
{
	char when[40];
	struct timespec ts;
	struct tm tm;
	char *s;
	size_t n;
	ssize_t w;
	int rc = 0;

	if (!a) {
		json_decref(request);
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	s = audit_format(when, a->job_id, device, request, rule, line,
			 decision);
	json_decref(request);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	/* One write: O_APPEND keeps concurrent writers' lines whole. */
	w = write(a->fd, s, n);
	if (w < 0)
		rc = -errno;
	else if ((size_t)w != n)
		rc = -ENOSPC;
	else if (fdatasync(a->fd) < 0 && errno != EINVAL)
		rc = -errno; /* EINVAL: a pipe or tty, nothing to sync */
	free(s);
	return rc;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	close(a->fd);
	free(a->job_id);
	free(a);
}
