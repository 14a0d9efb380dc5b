using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Spatial subsampling by (1, s, s) of a channels-last tensor [N, D, H, W, C], the twin of <see cref="Cpu.Subsample"/>:
/// output [N, D, ceil(H/s), ceil(W/s), C].
/// </summary>
public static class Subsample
{
    /// <summary>y[n, d, i, j, :] = x[n, d, i·s, j·s, :].</summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, int batch, int depth, int height, int width, int channels, int stride)
    {
        var shape = new SubsampleShape(height, width, channels, stride);
        gpu.Launch(ForwardKernel, GpuKernels.Extent((long)batch * depth * shape.OutHeight * shape.OutWidth * channels, "Subsample.Forward"), y, x, shape);
    }

    /// <summary>dx = dy at the sampled positions, zero elsewhere (overwritten); one thread per element of dx.</summary>
    public static void Backward(GpuKernels gpu, ArrayView<float> dx, ArrayView<float> dy, int batch, int depth, int height, int width, int channels, int stride) =>
        gpu.Launch(BackwardKernel, GpuKernels.Extent((long)batch * depth * height * width * channels, "Subsample.Backward"), dx, dy,
            new SubsampleShape(height, width, channels, stride));

    static void ForwardKernel(Index1D index, ArrayView<float> y, ArrayView<float> x, SubsampleShape shape)
    {
        int c = index % shape.Channels, position = index / shape.Channels;
        int j = position % shape.OutWidth, i = position / shape.OutWidth % shape.OutHeight, plane = position / (shape.OutWidth * shape.OutHeight);
        y[index] = x[(((long)plane * shape.Height + i * shape.Stride) * shape.Width + j * shape.Stride) * shape.Channels + c];
    }

    static void BackwardKernel(Index1D index, ArrayView<float> dx, ArrayView<float> dy, SubsampleShape shape)
    {
        int c = index % shape.Channels, position = index / shape.Channels;
        int w = position % shape.Width, h = position / shape.Width % shape.Height, plane = position / (shape.Width * shape.Height);
        bool sampled = h % shape.Stride == 0 && w % shape.Stride == 0;
        dx[index] = sampled ? dy[(((long)plane * shape.OutHeight + h / shape.Stride) * shape.OutWidth + w / shape.Stride) * shape.Channels + c] : 0f;
    }
}

/// <summary>The sizes of one subsampling: the full plane, the stride, and the sampled plane.</summary>
internal readonly struct SubsampleShape(int height, int width, int channels, int stride)
{
    public readonly int Height = height, Width = width, Channels = channels, Stride = stride;
    public readonly int OutHeight = (height + stride - 1) / stride, OutWidth = (width + stride - 1) / stride;
}
