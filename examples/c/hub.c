/*
 * A hub in C over UDP: several cameras on one port, each stream's authenticated frames
 * written to its own file (OUT_DIR/STREAM.h264), counters once a second, feedback sent back
 * to the address each stream's packets come from.
 *
 *   hub --port 5004 --secret S --stream porch:1001 --stream garage:1002 [--seconds 10]
 *       [--out-dir .]
 *
 * Build against an installed sealcam:  cc hub.c $(pkg-config --cflags --libs sealcam)
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sealcam.h>

#define MAX_STREAMS 16

struct stream {
    char id[64];
    uint32_t ssrc;
    FILE *out;
    struct sockaddr_in from; /* where its packets come from: feedback goes there */
    int known;
    uint64_t frames, bytes;
};

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct stream *by_ssrc(struct stream *s, int n, uint32_t ssrc) {
    for (int i = 0; i < n; i++)
        if (s[i].ssrc == ssrc) return &s[i];
    return NULL;
}

int main(int argc, char **argv) {
    const char *secret = NULL, *out_dir = ".";
    unsigned port = 5004;
    double seconds = 10;
    struct stream streams[MAX_STREAMS];
    int n = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port")) port = (unsigned)atoi(v);
        else if (!strcmp(k, "--secret")) secret = v;
        else if (!strcmp(k, "--seconds")) seconds = atof(v);
        else if (!strcmp(k, "--out-dir")) out_dir = v;
        else if (!strcmp(k, "--stream") && n < MAX_STREAMS) {
            const char *c = strrchr(v, ':');
            if (!c || (size_t)(c - v) >= sizeof streams[n].id) { fprintf(stderr, "hub: --stream wants ID:SSRC\n"); return 2; }
            memset(&streams[n], 0, sizeof streams[n]);
            memcpy(streams[n].id, v, (size_t)(c - v));
            streams[n].ssrc = (uint32_t)strtoul(c + 1, NULL, 10);
            n++;
        } else { fprintf(stderr, "hub: unknown flag %s\n", k); return 2; }
    }
    if (!secret || n == 0) { fprintf(stderr, "hub: --secret and at least one --stream are required\n"); return 2; }

    sealcam_hub_config hc = {.struct_size = sizeof hc};
    sealcam_result r = sealcam_hub_config_default(&hc);
    hc.max_streams = (uint32_t)n;
    sealcam_hub *hub = NULL;
    if (r != SEALCAM_OK || (r = sealcam_hub_new(&hc, &hub)) != SEALCAM_OK) {
        fprintf(stderr, "hub: %s\n", sealcam_result_text(r));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        sealcam_receiver_config rc = {.struct_size = sizeof rc};
        sealcam_receiver_config_default(&rc);
        rc.ssrc = streams[i].ssrc;
        rc.stream_id = (const uint8_t *)streams[i].id;
        rc.stream_id_len = strlen(streams[i].id);
        rc.base_secret = (const uint8_t *)secret;
        rc.base_secret_len = strlen(secret);
        if ((r = sealcam_hub_add_stream(hub, &rc)) != SEALCAM_OK) {
            fprintf(stderr, "hub: stream %s: %s\n", streams[i].id, sealcam_result_text(r));
            return 1;
        }
        char path[512];
        snprintf(path, sizeof path, "%s/%s.h264", out_dir, streams[i].id);
        if (!(streams[i].out = fopen(path, "wb"))) { perror(path); return 1; }
    }

    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("hub: bind"); return 1; }
    printf("hub: listening on 127.0.0.1:%u for %d streams\n", port, n);
    fflush(stdout);

    uint8_t pkt[2048], fb[1500];
    uint64_t start = now_us(), end = start + (uint64_t)(seconds * 1e6), last_print = start, dropped = 0;
    while (now_us() < end) {
        uint64_t wake = now_us() + 20000, t = 0;
        if (sealcam_hub_poll_timeout(hub, &t) == SEALCAM_OK && t < wake) wake = t;
        uint64_t now = now_us();
        struct pollfd pfd = {sock, POLLIN, 0};
        if (poll(&pfd, 1, wake > now ? (int)((wake - now + 999) / 1000) : 0) > 0) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t len;
            while ((len = recvfrom(sock, pkt, sizeof pkt, MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) > 0) {
                if (sealcam_hub_handle_packet(hub, now_us(), pkt, (size_t)len) != SEALCAM_OK) {
                    dropped++;
                } else {
                    /* An accepted packet: remember where its stream's feedback goes. */
                    uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
                    struct stream *s = by_ssrc(streams, n, ssrc);
                    if (s) { s->from = from; s->known = 1; }
                }
                fl = sizeof from;
            }
        }
        now = now_us();
        sealcam_hub_handle_timeout(hub, now);
        sealcam_frame f = {.struct_size = sizeof f};
        while (sealcam_hub_poll_frame(hub, &f) == SEALCAM_OK) {
            struct stream *s = by_ssrc(streams, n, f.ssrc);
            if (!s) continue;
            fwrite(f.data, 1, f.len, s->out);
            s->frames++;
            s->bytes += f.len;
        }
        size_t fb_len = 0;
        uint32_t fb_ssrc = 0;
        while (sealcam_hub_poll_feedback(hub, now, fb, sizeof fb, &fb_ssrc, &fb_len) == SEALCAM_OK) {
            struct stream *s = by_ssrc(streams, n, fb_ssrc);
            if (s && s->known) sendto(sock, fb, fb_len, 0, (struct sockaddr *)&s->from, sizeof s->from);
        }
        if (now - last_print >= 1000000 || now >= end) {
            last_print = now;
            for (int i = 0; i < n; i++) {
                sealcam_receiver_stats st = {.struct_size = sizeof st};
                sealcam_hub_stream_stats(hub, streams[i].ssrc, &st);
                printf("hub %s: frames %llu, %llu kB, auth drops %llu, undecodable %llu, PLIs %llu\n", streams[i].id,
                       (unsigned long long)streams[i].frames, (unsigned long long)(streams[i].bytes / 1000),
                       (unsigned long long)st.dropped_auth, (unsigned long long)st.frames_undecodable,
                       (unsigned long long)st.plis_sent);
            }
            fflush(stdout);
        }
    }
    for (int i = 0; i < n; i++) {
        printf("hub done: stream=%s frames=%llu\n", streams[i].id, (unsigned long long)streams[i].frames);
        fclose(streams[i].out);
    }
    printf("hub done: dropped=%llu\n", (unsigned long long)dropped);
    sealcam_hub_free(hub);
    close(sock);
    return 0;
}
