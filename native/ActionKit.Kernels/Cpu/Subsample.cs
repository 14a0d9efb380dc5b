namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Spatial subsampling of a channels-last tensor [N, D, H, W, C] by (1, s, s): what a 1x1x1 convolution with spatial
/// stride s reads (X3D's strided shortcut). Output [N, D, ceil(H/s), ceil(W/s), C].
/// </summary>
public static unsafe class Subsample
{
    /// <summary>y[n, d, i, j, :] = x[n, d, i·s, j·s, :] (floats, or the byte codes of a quantized activation).</summary>
    public static void Forward<T>(T* y, T* x, int batch, int depth, int height, int width, int channels, int stride) where T : unmanaged =>
        Copy(y, x, batch, depth, height, width, channels, stride, toInput: false);

    /// <summary>dx = dy scattered back at the sampled positions, zero elsewhere (overwritten).</summary>
    public static void Backward(float* dx, float* dy, int batch, int depth, int height, int width, int channels, int stride)
    {
        Elementwise.Fill(dx, 0, (long)batch * depth * height * width * channels);
        Copy(dy, dx, batch, depth, height, width, channels, stride, toInput: true);
    }

    static void Copy<T>(T* sampled, T* full, int batch, int depth, int height, int width, int channels, int stride, bool toInput) where T : unmanaged
    {
        int outHeight = (height + stride - 1) / stride, outWidth = (width + stride - 1) / stride;
        CpuParallel.For(batch * depth, plane =>
        {
            for (int i = 0; i < outHeight; i++)
                for (int j = 0; j < outWidth; j++)
                {
                    var small = new Span<T>(sampled + (((long)plane * outHeight + i) * outWidth + j) * channels, channels);
                    var large = new Span<T>(full + (((long)plane * height + i * stride) * width + j * stride) * channels, channels);
                    if (toInput)
                        small.CopyTo(large);
                    else
                        large.CopyTo(small);
                }
        });
    }
}
