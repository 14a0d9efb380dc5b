using ActionKit.Kernels.Gpu;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace ActionKit.Kernels.Tests.Gpu;

/// <summary>
/// One ILGPU CPU accelerator (a simulator: tiny shapes only) and its kernels, shared by the tests of a class, plus
/// the copies between test arrays and device buffers.
/// </summary>
public sealed class GpuFixture : IDisposable
{
    readonly Context context = GpuKernels.CreateContext(builder => builder.CPU(GpuKernels.SimulatorDevice));
    readonly List<IDisposable> buffers = [];

    public GpuFixture()
    {
        Accelerator = context.CreateCPUAccelerator(0);
        Kernels = new GpuKernels(Accelerator);
    }

    public Accelerator Accelerator { get; }

    public GpuKernels Kernels { get; }

    /// <summary>A device copy of <paramref name="values"/>, freed with the fixture.</summary>
    public ArrayView<T> Upload<T>(T[] values) where T : unmanaged
    {
        var buffer = Accelerator.Allocate1D(values);
        buffers.Add(buffer);
        return buffer.View;
    }

    public static T[] Download<T>(ArrayView<T> view) where T : unmanaged => view.GetAsArray();

    public void Dispose()
    {
        foreach (var buffer in buffers)
            buffer.Dispose();
        Kernels.Dispose();
        Accelerator.Dispose();
        context.Dispose();
    }
}
