/* SPDX-License-Identifier: MIT */
/* mvm-vsock, the guest-side vsock client: contract in vsocktool.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vsockports.h"
#include "vsocktool.h"

static const char usage[] =
    "usage: mvm-vsock connect PORT | listen PORT | get PATH | put PATH |"
    " net HOST:PORT\n";

static int die(const char *what, const char *why)
{
	fprintf(stderr, "mvm-vsock: %s: %s\n", what, why);
	return 1;
}

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > 0xffffffffUL)
		return -1;
	*port = (unsigned)v;
	return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int vsocktool_connect_host(unsigned port)
{
	struct sockaddr_vm a = {
	    .svm_family = AF_VSOCK, .svm_cid = MVM_HOST_CID, .svm_port = port};
	/* Linux gives up on a vsock connect after 2 s; a host running dozens
	 * of VMs can take longer to answer (measured in bench/density.sh),
	 * and the VMM bounds the whole run anyway. */
	struct timeval tmo = {.tv_sec = 60};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tmo,
		   sizeof(tmo));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* stdin -> fd and fd -> stdout until fd reaches end of file. */
static int relay(int fd)
{
	struct pollfd pf[2] = {{.fd = 0, .events = POLLIN},
			       {.fd = fd, .events = POLLIN}};
	char buf[16384];

	for (;;) {
		ssize_t n;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return die("poll", strerror(errno));
		}
		if (pf[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return die("read", strerror(errno));
			if (n == 0)
				return 0;
			if (write_all(1, buf, (size_t)n) < 0)
				return die("write stdout", strerror(errno));
		}
		if (pf[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				shutdown(fd, SHUT_WR);
				pf[0].fd = -1;
			} else if (write_all(fd, buf, (size_t)n) < 0) {
				return die("write", strerror(errno));
			}
		}
	}
}

/* Read one reply line ("OK ..." or "ERR ...") byte by byte, so nothing
 * after it is consumed. Returns 0 for OK (rest in *arg), 1 for ERR. */
static int reply(int fd, char *line, size_t len, const char **arg)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, line + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(line, len, "the host closed the connection");
			return -1;
		}
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	if (strncmp(line, "OK", 2) == 0 &&
	    (line[2] == '\0' || line[2] == ' ')) {
		*arg = line[2] ? line + 3 : "";
		return 0;
	}
	if (strncmp(line, "ERR ", 4) == 0) {
		memmove(line, line + 4, strlen(line + 4) + 1);
		return 1;
	}
	snprintf(line, len, "bad reply from the host");
	return -1;
}

static int request(unsigned port, const char *verb, const char *arg, int *fd)
{
	size_t vl = strlen(verb), al = strlen(arg);
	char *req = malloc(vl + al + 2);
	int rc;

	*fd = vsocktool_connect_host(port);
	if (*fd < 0) {
		free(req);
		return *fd;
	}
	if (!req)
		return -ENOMEM;
	memcpy(req, verb, vl);
	memcpy(req + vl, arg, al);
	req[vl + al] = '\n';
	rc = write_all(*fd, req, vl + al + 1) < 0 ? -errno : 0;
	free(req);
	return rc;
}

static int cmd_get(const char *path)
{
	char line[512];
	const char *arg;
	char buf[16384];
	unsigned long long left;
	int fd, rc = request(MVM_PORT_FILES, "GET ", path, &fd);

	if (rc < 0)
		return die(path, strerror(-rc));
	if (reply(fd, line, sizeof(line), &arg) != 0)
		return die(path, line);
	left = strtoull(arg, NULL, 10);
	while (left) {
		ssize_t n =
		    read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return die(path, "short file from the host");
		if (write_all(1, buf, (size_t)n) < 0)
			return die("write stdout", strerror(errno));
		left -= (unsigned long long)n;
	}
	return 0;
}

static int cmd_put(const char *path)
{
	char line[512];
	const char *arg;
	char buf[16384];
	int fd, rc = request(MVM_PORT_FILES, "PUT ", path, &fd);

	if (rc < 0)
		return die(path, strerror(-rc));
	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return die("read stdin", strerror(errno));
		if (n == 0)
			break;
		/* A refused PUT is answered at once and the stream reset:
		 * stop sending and read why. */
		if (write_all(fd, buf, (size_t)n) < 0)
			break;
	}
	shutdown(fd, SHUT_WR);
	if (reply(fd, line, sizeof(line), &arg) != 0)
		return die(path, line);
	return 0;
}

static int cmd_net(const char *dest)
{
	char line[512];
	const char *arg;
	int fd, rc = request(MVM_PORT_NET, "CONNECT ", dest, &fd);

	if (rc < 0)
		return die(dest, strerror(-rc));
	if (reply(fd, line, sizeof(line), &arg) != 0)
		return die(dest, line);
	return relay(fd);
}

static int cmd_listen(unsigned port)
{
	struct sockaddr_vm a = {.svm_family = AF_VSOCK,
				.svm_cid = VMADDR_CID_ANY,
				.svm_port = port};
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;

	if (s < 0)
		return die("socket", strerror(errno));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0)
		return die("listen", strerror(errno));
	/* Tell a waiting test (or user) the guest is ready. */
	fprintf(stderr, "mvm-vsock: listening on port %u\n", port);
	fd = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return die("accept", strerror(errno));
	close(s);
	return relay(fd);
}

int vsocktool_main(int argc, char **argv)
{
	unsigned port;
	int fd;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc != 3) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "get") == 0)
		return cmd_get(argv[2]);
	if (strcmp(argv[1], "put") == 0)
		return cmd_put(argv[2]);
	if (strcmp(argv[1], "net") == 0)
		return cmd_net(argv[2]);
	if (parse_port(argv[2], &port) < 0) {
		fprintf(stderr, "mvm-vsock: '%s' is not a port\n", argv[2]);
		return 2;
	}
	if (strcmp(argv[1], "listen") == 0)
		return cmd_listen(port);
	if (strcmp(argv[1], "connect") != 0) {
		fputs(usage, stderr);
		return 2;
	}
	fd = vsocktool_connect_host(port);
	if (fd < 0)
		return die("connect", fd == -ECONNRESET
					  ? "refused by the host (policy)"
					  : strerror(-fd));
	return relay(fd);
}
