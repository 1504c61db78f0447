/*
 * A camera in C over UDP: a synthetic pattern (or a Y4M file, 4:2:0) encoded, sealed and
 * paced in real time to a hub, with the hub's feedback driving the adaptive bitrate.
 *
 *   camera --hub 127.0.0.1:5004 --stream-id porch --ssrc 1001 --secret S [--seconds 10]
 *          [--y4m FILE] [--width 320 --height 240 --fps 30]
 *
 * Build against an installed sealcam:  cc camera.c $(pkg-config --cflags --libs sealcam)
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
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

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int fail(const char *what, sealcam_result r) {
    fprintf(stderr, "camera: %s: %s\n", what, sealcam_result_text(r));
    return 1;
}

/* Reads the next frame of a Y4M file (C420 planes) into buf; returns 0 at the end. */
static int y4m_frame(FILE *f, uint8_t *buf, size_t len) {
    char line[128];
    if (!fgets(line, sizeof line, f) || strncmp(line, "FRAME", 5) != 0) return 0;
    return fread(buf, 1, len, f) == len;
}

static void pattern(uint8_t *buf, int w, int h, int n) {
    uint8_t *y = buf, *u = buf + w * h, *v = u + (w / 2) * (h / 2);
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            y[r * w + c] = (uint8_t)(16 + ((r + n * 2) ^ (c + n)) % 200 + (((r / 16 + c / 16 + n / 15) & 1) ? 20 : 0));
    for (int i = 0; i < (w / 2) * (h / 2); i++) {
        u[i] = (uint8_t)(128 + (i / (w / 2) + n) % 40 - 20);
        v[i] = (uint8_t)(128 + (i % (w / 2) - n) % 40);
    }
}

int main(int argc, char **argv) {
    const char *hub = "127.0.0.1:5004", *id = "camera", *secret = NULL, *y4m = NULL;
    unsigned ssrc = 1, w = 320, h = 240;
    double seconds = 10, fps = 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--hub")) hub = v;
        else if (!strcmp(k, "--stream-id")) id = v;
        else if (!strcmp(k, "--ssrc")) ssrc = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--secret")) secret = v;
        else if (!strcmp(k, "--seconds")) seconds = atof(v);
        else if (!strcmp(k, "--y4m")) y4m = v;
        else if (!strcmp(k, "--width")) w = (unsigned)atoi(v);
        else if (!strcmp(k, "--height")) h = (unsigned)atoi(v);
        else if (!strcmp(k, "--fps")) fps = atof(v);
        else { fprintf(stderr, "camera: unknown flag %s\n", k); return 2; }
    }
    if (!secret || strlen(secret) < 16) { fprintf(stderr, "camera: --secret of at least 16 bytes is required\n"); return 2; }
    FILE *in = NULL;
    if (y4m) {
        char header[256];
        in = fopen(y4m, "rb");
        if (!in || !fgets(header, sizeof header, in)) { fprintf(stderr, "camera: cannot read %s\n", y4m); return 1; }
        const char *p = strstr(header, " W"), *q = strstr(header, " H"), *f = strstr(header, " F");
        if (p) w = (unsigned)atoi(p + 2);
        if (q) h = (unsigned)atoi(q + 2);
        if (f) { int a = 0, b = 1; if (sscanf(f + 2, "%d:%d", &a, &b) == 2 && b) fps = (double)a / b; }
    }

    char host[64];
    const char *colon = strrchr(hub, ':');
    if (!colon || (size_t)(colon - hub) >= sizeof host) { fprintf(stderr, "camera: --hub wants HOST:PORT\n"); return 2; }
    memcpy(host, hub, (size_t)(colon - hub));
    host[colon - hub] = 0;
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) { fprintf(stderr, "camera: bad address %s\n", host); return 2; }
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&to, sizeof to) < 0) { perror("camera: socket"); return 1; }

    sealcam_sender_config sc = {.struct_size = sizeof sc};
    sealcam_result r = sealcam_sender_config_default(&sc);
    if (r != SEALCAM_OK) return fail("config", r);
    sc.ssrc = ssrc;
    sc.stream_id = (const uint8_t *)id;
    sc.stream_id_len = strlen(id);
    sc.base_secret = (const uint8_t *)secret;
    sc.base_secret_len = strlen(secret);
    sc.framerate_fps = (float)fps;
    sc.bitrate_bps = 600000;
    sc.adaptive_bitrate = 1;
    sealcam_sender *tx = NULL;
    if ((r = sealcam_sender_new(&sc, &tx)) != SEALCAM_OK) return fail("sealcam_sender_new", r);

    size_t frame_len = 0;
    if ((r = sealcam_i420_len(w, h, &frame_len)) != SEALCAM_OK) return fail("frame size", r);
    uint8_t *frame = malloc(frame_len), pkt[1500], fb[1500];
    size_t cw = (w + 1) / 2, ch = (h + 1) / 2;
    uint64_t start = now_us(), next_frame = start, last_print = start, period = (uint64_t)(1e6 / fps);
    uint64_t end = start + (uint64_t)(seconds * 1e6);
    unsigned frames = 0, queued_frames = 0, packets = 0;
    while (now_us() < end) {
        uint64_t now = now_us();
        if (now >= next_frame) {
            if (in) {
                if (!y4m_frame(in, frame, frame_len)) { rewind(in); char skip[256]; if (!fgets(skip, sizeof skip, in) || !y4m_frame(in, frame, frame_len)) break; }
            } else {
                pattern(frame, (int)w, (int)h, (int)frames);
            }
            sealcam_image img = {sizeof img, SEALCAM_FORMAT_I420, w, h, now,
                                 {frame, frame + w * h, frame + w * h + cw * ch}, {w, cw, cw},
                                 {(size_t)w * h, cw * ch, cw * ch}};
            uint8_t queued = 0;
            if ((r = sealcam_sender_push_frame(tx, now, &img, &queued)) != SEALCAM_OK) return fail("push_frame", r);
            frames++;
            queued_frames += queued;
            next_frame += period;
        }
        /* Send what is due, then sleep until the next packet, frame or feedback. */
        size_t len = 0;
        while ((r = sealcam_sender_poll_transmit(tx, now_us(), pkt, sizeof pkt, &len)) == SEALCAM_OK) {
            if (send(sock, pkt, len, 0) >= 0) packets++;
        }
        uint64_t wake = next_frame, t = 0;
        if (sealcam_sender_poll_timeout(tx, &t) == SEALCAM_OK && t < wake) wake = t;
        now = now_us();
        int wait_ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
        struct pollfd pfd = {sock, POLLIN, 0};
        if (poll(&pfd, 1, wait_ms) > 0) {
            ssize_t n;
            while ((n = recv(sock, fb, sizeof fb, MSG_DONTWAIT)) > 0)
                sealcam_sender_handle_feedback(tx, now_us(), fb, (size_t)n);
        }
        if (now_us() - last_print >= 1000000) {
            last_print = now_us();
            uint32_t target = 0;
            sealcam_sender_target_bitrate(tx, &target);
            printf("camera %s: %u frames, %u queued, %u packets, target %u kbit/s\n", id, frames, queued_frames,
                   packets, target / 1000);
            fflush(stdout);
        }
    }
    sealcam_sender_stats st = {.struct_size = sizeof st};
    sealcam_sender_get_stats(tx, &st);
    printf("camera %s done: frames_pushed=%llu frames_sent=%llu packets_sent=%llu retransmitted=%llu keyframes=%llu\n", id,
           (unsigned long long)st.frames_pushed,
           (unsigned long long)st.frames_sent, (unsigned long long)st.packets_sent,
           (unsigned long long)st.packets_retransmitted, (unsigned long long)st.keyframes);
    sealcam_sender_free(tx);
    free(frame);
    if (in) fclose(in);
    close(sock);
    return 0;
}
