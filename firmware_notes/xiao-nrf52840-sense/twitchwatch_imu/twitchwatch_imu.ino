// twitchwatch IMU for the Seeed XIAO nRF52840 Sense.
//
// Streams the on-board LSM6DS3TR-C over the open "twitchwatch IMU" GATT profile, version 1
// (firmware_notes/open-imu-profile.md). Board package, libraries, flashing and traps:
// README.md beside this folder.
//
// Core: "Seeed nRF52 Boards" (the Adafruit-derived, non-mbed core, board "Seeed XIAO nRF52840
// Sense"), which brings Bluefruit. Library: "Seeed Arduino LSM6DS3" (powers the IMU and talks
// to it on the right I2C bus; the sketch sets the registers itself for the FIFO).
//
// The IMU writes samples into its 4 kB FIFO at its own rate; loop() empties the FIFO every
// 50 ms, times the samples on the microcontroller's clock (packet.h: SampleClock) and sends
// packets of as many samples as the negotiated MTU allows.
#include <bluefruit.h>
#include <LSM6DS3.h>
#include <Wire.h>

#include "packet.h"

using namespace twimu;

// ---- LSM6DS3TR-C registers (datasheet, register map) ----------------------------------
const uint8_t REG_FIFO_CTRL1 = 0x06;   // FIFO threshold, low byte
const uint8_t REG_FIFO_CTRL2 = 0x07;
const uint8_t REG_FIFO_CTRL3 = 0x08;   // DEC_FIFO_GYRO[5:3], DEC_FIFO_XL[2:0]: 1 = no decimation
const uint8_t REG_FIFO_CTRL5 = 0x0A;   // ODR_FIFO[6:3], FIFO_MODE[2:0]: 0 bypass, 6 continuous
const uint8_t REG_CTRL1_XL = 0x10;     // ODR_XL[7:4], FS_XL[3:2]
const uint8_t REG_CTRL2_G = 0x11;      // ODR_G[7:4], FS_G[3:2]
const uint8_t REG_CTRL3_C = 0x12;      // BDU bit 6, IF_INC bit 2
const uint8_t REG_FIFO_STATUS1 = 0x3A; // DIFF_FIFO[7:0], then STATUS2: bit 6 overrun, [2:0] DIFF_FIFO[10:8]
const uint8_t REG_FIFO_STATUS3 = 0x3C; // FIFO_PATTERN[7:0]: which word comes next
const uint8_t REG_FIFO_DATA_OUT_L = 0x3E;

LSM6DS3 imu(I2C_MODE, 0x6A);

// ---- BLE objects ------------------------------------------------------------------------
// 128-bit UUIDs, least significant byte first (Bluefruit's order)
const uint8_t UUID_SERVICE[] = {0x00, 0x4d, 0x3a, 0x2b, 0x1e, 0x5c, 0x3f, 0x9d,
                                0x8e, 0x4a, 0x77, 0x74, 0x01, 0x00, 0x77, 0x74};
const uint8_t UUID_CONTROL[] = {0x00, 0x4d, 0x3a, 0x2b, 0x1e, 0x5c, 0x3f, 0x9d,
                                0x8e, 0x4a, 0x77, 0x74, 0x02, 0x00, 0x77, 0x74};
const uint8_t UUID_DATA[] = {0x00, 0x4d, 0x3a, 0x2b, 0x1e, 0x5c, 0x3f, 0x9d,
                             0x8e, 0x4a, 0x77, 0x74, 0x03, 0x00, 0x77, 0x74};
BLEService imuService(UUID_SERVICE);
BLECharacteristic controlChr(UUID_CONTROL);
BLECharacteristic dataChr(UUID_DATA);
BLEBas battery;

// ---- state --------------------------------------------------------------------------------
volatile bool startRequested = false, stopRequested = false;
bool streaming = false;            // owned by handle_command (called from the BLE task)
Settings settings;
uint16_t connHandle = BLE_CONN_HANDLE_INVALID;
SampleClock sampleClock;
PacketBuilder builder;
Clock64 clock64;
uint8_t packetBuf[256];
uint32_t lastRead = 0, lastPartial = 0, lastBattery = 0;
uint32_t notifyFailures = 0;

int64_t deviceNanos() { return int64_t(clock64.extend(millis())) * 1000000LL; }

uint8_t batteryPercent() {
  // Li-Po through the XIAO's divider (PIN_VBAT, enabled by VBAT_ENABLE low): 1510k/510k.
  // A linear 3.3-4.2 V map is rough; 255 means "unknown" to the profile.
#if defined(PIN_VBAT) && defined(VBAT_ENABLE)
  pinMode(VBAT_ENABLE, OUTPUT);
  digitalWrite(VBAT_ENABLE, LOW);
  analogReference(AR_INTERNAL_2_4);
  analogReadResolution(12);
  float mv = analogRead(PIN_VBAT) * 2400.0f / 4096.0f * (1510.0f / 510.0f);
  int pct = int((mv - 3300.0f) / 9.0f);
  return uint8_t(pct < 0 ? 0 : pct > 100 ? 100 : pct);
#else
  return BATTERY_UNKNOWN;
#endif
}

// ---- IMU ---------------------------------------------------------------------------------
struct FifoImu {
  bool gyro;
  uint8_t wordsPerSample() const { return gyro ? 6 : 3; }

  void status(bool& overrun, uint16_t& samples) {
    uint8_t s[4];
    imu.readRegisterRegion(s, REG_FIFO_STATUS1, 4);
    uint16_t words = uint16_t(s[0] | ((s[1] & 0x07) << 8));
    overrun = (s[1] & 0x40) != 0;
    uint16_t pattern = uint16_t(s[2] | ((s[3] & 0x03) << 8));
    // A read that stopped mid-sample leaves the pattern off 0: drop words up to a boundary.
    while (pattern != 0 && words) {
      uint8_t w[2];
      imu.readRegisterRegion(w, REG_FIFO_DATA_OUT_L, 2);
      words--;
      pattern = uint16_t((pattern + 1) % wordsPerSample());
    }
    samples = uint16_t(words / wordsPerSample());
  }

  // FIFO order: data set 1 is the gyro, data set 2 the accelerometer.
  void read_sample(int16_t acc[3], int16_t gyr[3]) {
    if (gyro) for (int k = 0; k < 3; k++) gyr[k] = readWord();
    for (int k = 0; k < 3; k++) acc[k] = readWord();
  }

  int16_t readWord() {
    uint8_t w[2];
    imu.readRegisterRegion(w, REG_FIFO_DATA_OUT_L, 2);
    return int16_t(w[0] | (w[1] << 8));
  }
} fifo;

void imuStart() {
  uint8_t odr = uint8_t(settings.rate_index + 1);   // ODR codes 1..8 = 12.5..1666 Hz
  uint8_t fs = settings.range_g == 2 ? 0 : settings.range_g == 16 ? 1 : settings.range_g == 4 ? 2 : 3;
  imu.writeRegister(REG_FIFO_CTRL5, 0x00);                  // bypass: empties the FIFO
  imu.writeRegister(REG_CTRL3_C, 0x44);                     // BDU, address auto-increment
  imu.writeRegister(REG_CTRL1_XL, uint8_t(odr << 4 | fs << 2));
  imu.writeRegister(REG_CTRL2_G, settings.gyro ? uint8_t(odr << 4 | 3 << 2) : 0);  // 2000 dps
  imu.writeRegister(REG_FIFO_CTRL1, 0);
  imu.writeRegister(REG_FIFO_CTRL2, 0);
  imu.writeRegister(REG_FIFO_CTRL3, settings.gyro ? 0x09 : 0x01);
  imu.writeRegister(REG_FIFO_CTRL5, uint8_t(odr << 3 | 6)); // continuous, at the sensor rate
  fifo.gyro = settings.gyro;
  sampleClock.start(uint32_t(1e12 / LSM6DS3_BAND.rates_mhz[settings.rate_index] + 0.5));
  uint16_t mtu = Bluefruit.Connection(connHandle) ? Bluefruit.Connection(connHandle)->getMtu() : 23;
  builder.begin(max_samples(mtu, settings.gyro), settings.gyro, lsm6ds3_acc_lsb_ug(settings.range_g),
                LSM6DS3_GYRO_LSB_MDPS);
  lastRead = lastPartial = millis();
}

void imuStop() {
  imu.writeRegister(REG_FIFO_CTRL5, 0x00);
  imu.writeRegister(REG_CTRL1_XL, 0x00);  // power down
  imu.writeRegister(REG_CTRL2_G, 0x00);
}

// ---- BLE callbacks (run in the Bluefruit task: keep them short) ---------------------------
void onControlWrite(uint16_t conn, BLECharacteristic* chr, uint8_t* data, uint16_t len) {
  (void)chr;
  bool wasStreaming = streaming;
  uint8_t answer[16];
  size_t n = handle_command(LSM6DS3_BAND, data, len, streaming, settings, batteryPercent(), answer);
  if (streaming && !wasStreaming) startRequested = true;
  if (!streaming && wasStreaming) stopRequested = true;
  controlChr.notify(conn, answer, uint16_t(n));
}

void onConnect(uint16_t conn) {
  connHandle = conn;
  BLEConnection* c = Bluefruit.Connection(conn);
  c->requestMtuExchange(247);
  c->requestConnectionParameter(24);  // 30 ms (units of 1.25 ms): a few packets per event
}

void onDisconnect(uint16_t conn, uint8_t reason) {
  (void)conn;
  (void)reason;
  connHandle = BLE_CONN_HANDLE_INVALID;
  if (streaming) {
    streaming = false;
    stopRequested = true;
  }
}

void sendPacket(const uint8_t* buf, size_t len) {
  if (connHandle == BLE_CONN_HANDLE_INVALID || !dataChr.notify(connHandle, buf, uint16_t(len)))
    notifyFailures++;  // the sequence number was used: the recorder counts it as lost
}

// ---- setup / loop -------------------------------------------------------------------------
void setup() {
  imu.settings.gyroEnabled = 0;
  imu.settings.accelEnabled = 0;
  imu.begin();  // powers the IMU (PIN_LSM6DS3TR_C_POWER) and checks WHO_AM_I
#if defined(TARGET_SEEED_XIAO_NRF52840_SENSE)
  Wire1.setClock(400000);  // the Sense's internal IMU bus; 400 kHz keeps FIFO reads short
#endif
  imuStop();

  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX);  // MTU 247 and a deep notification queue
  Bluefruit.begin();
  Bluefruit.setTxPower(4);
  Bluefruit.setName("TW-IMU XIAO");
  Bluefruit.Periph.setConnectCallback(onConnect);
  Bluefruit.Periph.setDisconnectCallback(onDisconnect);
  Bluefruit.Periph.setConnInterval(12, 24);  // 15-30 ms

  imuService.begin();
  controlChr.setProperties(CHR_PROPS_WRITE | CHR_PROPS_NOTIFY);
  controlChr.setPermission(SECMODE_OPEN, SECMODE_OPEN);
  controlChr.setMaxLen(16);
  controlChr.setWriteCallback(onControlWrite);
  controlChr.begin();
  dataChr.setProperties(CHR_PROPS_NOTIFY);
  dataChr.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  dataChr.setMaxLen(244);
  dataChr.begin();
  battery.begin();
  battery.write(batteryPercent());

  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addService(imuService);
  Bluefruit.ScanResponse.addName();
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.setInterval(160, 800);  // 100 ms fast, 500 ms slow
  Bluefruit.Advertising.setFastTimeout(30);
  Bluefruit.Advertising.start(0);
}

void loop() {
  uint32_t now = millis();
  clock64.extend(now);  // at least once per wrap of millis()
  if (startRequested) {
    startRequested = false;
    imuStart();
  }
  if (stopRequested) {
    stopRequested = false;
    imuStop();
  }
  if (streaming && now - lastRead >= 50) {
    lastRead = now;
    BLEConnection* c = Bluefruit.Connection(connHandle);
    if (c) builder.set_capacity(max_samples(c->getMtu(), settings.gyro));  // MTU may grow late
    bool partial = now - lastPartial >= 1000;
    if (partial) lastPartial = now;
    service_fifo(fifo, sampleClock, builder, deviceNanos(), settings.gyro, partial, packetBuf,
                 sizeof packetBuf, sendPacket);
  }
  if (now - lastBattery >= 60000) {
    lastBattery = now;
    if (connHandle != BLE_CONN_HANDLE_INVALID) battery.notify(batteryPercent());
  }
  delay(5);  // FreeRTOS sleeps the CPU in the idle task
}
