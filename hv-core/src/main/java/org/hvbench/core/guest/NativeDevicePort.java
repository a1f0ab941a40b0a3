package org.hvbench.core.guest;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.BlockDevice;

/** The real device's registers, written by a kernel that owns the device: a doorbell is a DEVICE_START. */
public final class NativeDevicePort implements DevicePort {
    private final BlockDevice device;
    private final Context deviceContext;

    public NativeDevicePort(BlockDevice device, Context deviceContext) {
        this.device = device;
        this.deviceContext = deviceContext;
    }

    @Override
    public int write(Cpu cpu, int register, long value) {
        if (register == BlockDevice.REG_DOORBELL) {
            cpu.startDevice(deviceContext, "the kernel starts the I/O on the device");
        }
        return device.mmioWrite(register, value);
    }
}
