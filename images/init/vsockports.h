/* SPDX-License-Identifier: MIT */
/*
 * The vsock ports of mvm's own services on the host (CID 2), shared by the
 * guest init and the VMM. Ports MVM_PORT_FIRST..MVM_PORT_LAST are reserved:
 * the policy's `port connect` rules never reach them, and a guest
 * connection to any other port in the range is reset. Everything else goes
 * through the policy to the host Unix socket <dir>/port_P (docs/VSOCK.md).
 */
#ifndef MVM_VSOCKPORTS_H
#define MVM_VSOCKPORTS_H

#define MVM_HOST_CID 2
#define MVM_PORT_JOB 1024   /* guest -> host: output frames, exit status */
#define MVM_PORT_STDIN 1025 /* host -> guest: the job's stdin, then EOF */
#define MVM_PORT_FILES 1026 /* file service: GET/PUT one host file */
#define MVM_PORT_NET 1027   /* network proxy: CONNECT host:port */
#define MVM_PORT_RESTORE 1028 /* host -> guest: a restored VM's job */
#define MVM_PORT_FIRST 1024
#define MVM_PORT_LAST 1031

#endif
