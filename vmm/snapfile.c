/* SPDX-License-Identifier: MIT */
/* The snapshot state file. Contract: snapfile.h. */
#include "vmm/snapfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SEC_HDR 16u

static uint32_t crc(const void *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

void snapw_add(struct snap_writer *w, uint32_t type, uint32_t index,
	       const void *data, uint32_t len)
{
	size_t need = SEC_HDR + pad8(len);
	uint32_t hdr[4] = {type, index, len, 0};

	if (w->oom)
		return;
	if (w->cap - w->len < need) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *nb;

		while (cap - w->len < need)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->oom = 1;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, hdr, SEC_HDR);
	memcpy(w->buf + w->len + SEC_HDR, data, len);
	memset(w->buf + w->len + SEC_HDR + len, 0, pad8(len) - len);
	w->len += need;
}

void snapw_free(struct snap_writer *w)
{
	free(w->buf);
	*w = (struct snap_writer){0};
}

int snap_encode(const struct snap_header *h, const struct snap_writer *w,
		uint8_t **out, size_t *outlen)
{
	struct snap_header hh = *h;
	uint8_t *b;

	*out = NULL;
	if (w->oom)
		return -ENOMEM;
	memcpy(hh.magic, SNAP_MAGIC, sizeof(hh.magic));
	hh.version = SNAP_FORMAT_VERSION;
	hh.header_size = sizeof(hh);
	hh.body_len = w->len;
	hh.body_crc = crc(w->buf, w->len);
	hh.header_crc = 0;
	hh.header_crc = crc(&hh, sizeof(hh));
	b = malloc(sizeof(hh) + w->len);
	if (!b)
		return -ENOMEM;
	memcpy(b, &hh, sizeof(hh));
	if (w->len)
		memcpy(b + sizeof(hh), w->buf, w->len);
	*out = b;
	*outlen = sizeof(hh) + w->len;
	return 0;
}

static int fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

int snap_parse(const uint8_t *buf, size_t len, struct snap_header *h,
	       const uint8_t **body, size_t *body_len, char *err, size_t errlen)
{
	struct snap_header hh;
	size_t off;
	uint32_t want;

	if (len < sizeof(hh.magic) || memcmp(buf, SNAP_MAGIC, 8) != 0)
		return fail(err, errlen, "not an mvm snapshot (bad magic)");
	if (len < sizeof(hh))
		return fail(err, errlen, "truncated header");
	memcpy(&hh, buf, sizeof(hh));
	if (hh.version != SNAP_FORMAT_VERSION) {
		snprintf(err, errlen,
			 "snapshot format version %u, this mvm reads %u",
			 hh.version, SNAP_FORMAT_VERSION);
		return -EINVAL;
	}
	if (hh.header_size != sizeof(hh))
		return fail(err, errlen, "bad header size");
	want = hh.header_crc;
	hh.header_crc = 0;
	if (crc(&hh, sizeof(hh)) != want)
		return fail(err, errlen, "header checksum mismatch (corrupt)");
	hh.header_crc = want;
	if (hh.body_len != len - sizeof(hh))
		return fail(err, errlen,
			    "state file size does not match its header "
			    "(truncated or corrupt)");
	if (crc(buf + sizeof(hh), (size_t)hh.body_len) != hh.body_crc)
		return fail(err, errlen, "body checksum mismatch (corrupt)");
	hh.mvm_version[sizeof(hh.mvm_version) - 1] = '\0';
	hh.host_release[sizeof(hh.host_release) - 1] = '\0';
	for (off = 0; off < hh.body_len;) {
		uint32_t sh[4];
		size_t left = (size_t)hh.body_len - off;

		if (left < SEC_HDR)
			return fail(err, errlen, "truncated section header");
		memcpy(sh, buf + sizeof(hh) + off, SEC_HDR);
		if (sh[2] > left - SEC_HDR || pad8(sh[2]) > left - SEC_HDR)
			return fail(err, errlen, "section runs past the end");
		off += SEC_HDR + pad8(sh[2]);
	}
	*h = hh;
	*body = buf + sizeof(hh);
	*body_len = (size_t)hh.body_len;
	return 0;
}

long snap_find(const uint8_t *body, size_t body_len, uint32_t type,
	       uint32_t index, const void **data)
{
	size_t off = 0;

	while (body_len - off >= SEC_HDR) {
		uint32_t sh[4];

		memcpy(sh, body + off, SEC_HDR);
		if (sh[2] > body_len - off - SEC_HDR)
			return -1;
		if (sh[0] == type && sh[1] == index) {
			*data = body + off + SEC_HDR;
			return (long)sh[2];
		}
		off += SEC_HDR + pad8(sh[2]);
		if (off > body_len)
			return -1;
	}
	return -1;
}

int snap_compatible(const struct snap_header *h, const struct snap_header *want,
		    char *err, size_t errlen)
{
	if (strncmp(h->mvm_version, want->mvm_version,
		    sizeof(h->mvm_version)) != 0) {
		snprintf(err, errlen,
			 "snapshot taken by mvm %.31s, this is mvm %.31s: take "
			 "it again",
			 h->mvm_version, want->mvm_version);
		return -1;
	}
	if (strncmp(h->host_release, want->host_release,
		    sizeof(h->host_release)) != 0) {
		snprintf(err, errlen,
			 "snapshot taken on host kernel %.67s, this host runs "
			 "%.67s: take it again",
			 h->host_release, want->host_release);
		return -1;
	}
	if (h->host_pvm != want->host_pvm) {
		snprintf(err, errlen,
			 "snapshot taken on a %s host, this is a "
			 "%s host",
			 h->host_pvm ? "PVM" : "hardware KVM",
			 want->host_pvm ? "PVM" : "hardware KVM");
		return -1;
	}
	if (h->cpu_signature != want->cpu_signature) {
		snprintf(err, errlen,
			 "snapshot taken on CPU signature %#x, this CPU is %#x",
			 h->cpu_signature, want->cpu_signature);
		return -1;
	}
	return 0;
}
