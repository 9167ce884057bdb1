// Test driver for firmware_notes/xiao-nrf52840-sense/twitchwatch_imu/packet.h (no Arduino).
//
//   packet_driver cmd HEX [HEX ...]
//       feeds each HEX string as one control write to an LSM6DS3 band; prints
//       "ANS <hex>" and "STATE <streaming> <rate_mhz> <range_g> <gyro>" after each.
//   packet_driver stream RATE_HZ DRIFT_PPM SECONDS GYRO MTU STALL_AT_S STALL_S SEED
//       STARTs at RATE_HZ, then simulates an IMU whose oscillator is DRIFT_PPM slow (its true
//       period is nominal x (1 + ppm/1e6)) filling a 4 kB FIFO, read at random 20-80 ms
//       intervals on a millisecond device clock; no reads during the stall. Prints
//       "META <true_period_ns> <true_first_sample_ns> <nominal_period_ns> <capacity>", then one
//       "PKT <hex>" per packet. Accelerometer x holds the true sample index & 0x7fff, y the
//       index >> 15, z 8192; gyro x holds -(index & 0x7fff).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "packet.h"

using namespace twimu;

static std::vector<uint8_t> from_hex(const char* s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; s[i] && s[i + 1]; i += 2) {
    char b[3] = {s[i], s[i + 1], 0};
    out.push_back(uint8_t(strtoul(b, 0, 16)));
  }
  return out;
}

static void print_hex(const char* tag, const uint8_t* p, size_t n) {
  printf("%s ", tag);
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  printf("\n");
}

struct SimImu {
  double period_ns, first_ns;
  size_t capacity;
  uint64_t produced = 0;  // samples the IMU has taken so far
  std::deque<uint64_t> fifo;
  bool overrun = false;
  double now_ns = 0;

  void advance(double t_ns) {
    now_ns = t_ns;
    while (first_ns + double(produced) * period_ns <= now_ns) {
      if (fifo.size() == capacity) { fifo.pop_front(); overrun = true; }
      fifo.push_back(produced++);
    }
  }
  void status(bool& ov, uint16_t& n) {
    ov = overrun;
    overrun = false;
    n = uint16_t(fifo.size());
  }
  void read_sample(int16_t acc[3], int16_t gyro[3]) {
    uint64_t i = fifo.front();
    fifo.pop_front();
    acc[0] = int16_t(i & 0x7fff);
    acc[1] = int16_t((i >> 15) & 0x7fff);
    acc[2] = 8192;
    gyro[0] = int16_t(-int(i & 0x7fff));
    gyro[1] = 100;
    gyro[2] = -100;
  }
};

struct Printer {
  void operator()(const uint8_t* p, size_t n) { print_hex("PKT", p, n); }
};

static int run_cmd(int argc, char** argv) {
  bool streaming = false;
  Settings settings = {0, 0, false};
  for (int i = 2; i < argc; i++) {
    std::vector<uint8_t> w = from_hex(argv[i]);
    uint8_t answer[16];
    size_t n = handle_command(LSM6DS3_BAND, w.data(), w.size(), streaming, settings, 87, answer);
    print_hex("ANS", answer, n);
    printf("STATE %d %u %u %d\n", streaming ? 1 : 0,
           unsigned(LSM6DS3_BAND.rates_mhz[settings.rate_index]), unsigned(settings.range_g),
           settings.gyro ? 1 : 0);
  }
  return 0;
}

static int run_stream(int argc, char** argv) {
  if (argc != 10) { fprintf(stderr, "stream needs 8 arguments\n"); return 2; }
  unsigned rate_hz = unsigned(atoi(argv[2]));
  double drift_ppm = atof(argv[3]);
  double seconds = atof(argv[4]);
  bool gyro = atoi(argv[5]) != 0;
  uint16_t mtu = uint16_t(atoi(argv[6]));
  double stall_at = atof(argv[7]) * 1e9, stall_len = atof(argv[8]) * 1e9;
  srand(unsigned(atoi(argv[9])));

  bool streaming = false;
  Settings settings;
  uint8_t start[5] = {CMD_START, uint8_t(rate_hz), uint8_t(rate_hz >> 8), 4, uint8_t(gyro)};
  uint8_t answer[16];
  handle_command(LSM6DS3_BAND, start, 5, streaming, settings, 87, answer);
  if (answer[2] != ST_OK) { print_hex("ANS", answer, 3); return 1; }

  double nominal = 1e12 / double(LSM6DS3_BAND.rates_mhz[settings.rate_index]);
  SimImu imu;
  imu.period_ns = nominal * (1.0 + drift_ppm * 1e-6);
  imu.first_ns = 1234567.0 + (rand() % 1000) * 1e4;  // first sample a few ms after boot
  imu.capacity = 4096 / (gyro ? 12 : 6);
  printf("META %.6f %.6f %.6f %zu\n", imu.period_ns, imu.first_ns, nominal, imu.capacity);

  SampleClock clock;
  clock.start(uint32_t(nominal + 0.5));
  PacketBuilder builder;
  builder.begin(max_samples(mtu, gyro), gyro, lsm6ds3_acc_lsb_ug(settings.range_g),
                LSM6DS3_GYRO_LSB_MDPS);
  uint8_t buf[256];
  Printer send;
  double t = 0, last_partial = 0;
  while (t < seconds * 1e9) {
    t += (20 + rand() % 61) * 1e6 + (rand() % 1000) * 1e3;  // 20-80 ms, not on the ms grid
    if (t >= stall_at && t < stall_at + stall_len) continue;
    imu.advance(t);
    int64_t device_ns = int64_t(t / 1e6) * 1000000;  // millis() resolution
    bool partial = t - last_partial >= 1e9;
    if (partial) last_partial = t;
    service_fifo(imu, clock, builder, device_ns, gyro, partial, buf, sizeof buf, send);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 2 && !strcmp(argv[1], "cmd")) return run_cmd(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "stream")) return run_stream(argc, argv);
  fprintf(stderr, "usage: packet_driver cmd HEX... | stream RATE DRIFT_PPM SECONDS GYRO MTU "
                  "STALL_AT STALL_S SEED\n");
  return 2;
}
