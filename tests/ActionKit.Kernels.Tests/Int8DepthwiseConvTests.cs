using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

public unsafe class Int8DepthwiseConvTests
{
    /// <summary>The plain-loop integer reference: sums[n, z, y, x, c] = Σ_taps level · w over the taps inside the input.</summary>
    static int[] Reference(int[] levels, sbyte[] weights, ConvGeometry g)
    {
        var sums = new int[g.OutputLength];
        int c = g.InChannels;
        for (int n = 0; n < g.Batch; n++)
            for (int z = 0; z < g.OutDepth; z++)
                for (int y = 0; y < g.OutHeight; y++)
                    for (int x = 0; x < g.OutWidth; x++)
                        for (int channel = 0; channel < c; channel++)
                        {
                            int sum = 0;
                            for (int kz = 0; kz < g.KernelDepth; kz++)
                                for (int ky = 0; ky < g.KernelHeight; ky++)
                                    for (int kx = 0; kx < g.KernelWidth; kx++)
                                    {
                                        int iz = z * g.StrideDepth - g.PadDepth + kz, iy = y * g.StrideHeight - g.PadHeight + ky, ix = x * g.StrideWidth - g.PadWidth + kx;
                                        if (iz < 0 || iz >= g.InDepth || iy < 0 || iy >= g.InHeight || ix < 0 || ix >= g.InWidth)
                                            continue;
                                        int tap = (kz * g.KernelHeight + ky) * g.KernelWidth + kx;
                                        sum += levels[((((long)n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth + ix) * c + channel] * weights[channel * g.KernelVolume + tap];
                                    }
                            sums[((((long)n * g.OutDepth + z) * g.OutHeight + y) * g.OutWidth + x) * c + channel] = sum;
                        }
        return sums;
    }

    /// <summary>The kernel's sums: unit multiplier, no bias, float output, so each output is its integer sum.</summary>
    static float[] Run(int[] levels, sbyte[] weights, ConvGeometry g, bool signed)
    {
        var codes = levels.Select(level => (byte)(level + (signed ? 128 : 0))).Append((byte)0).ToArray();
        var packed = Int8DepthwiseConv.Pack(weights, g.InChannels, g.KernelVolume);
        var output = Enumerable.Repeat(float.NaN, (int)g.OutputLength).ToArray();
        var multiplier = Enumerable.Repeat(1f, g.InChannels).ToArray();
        fixed (byte* pc = codes)
        fixed (float* py = output, pm = multiplier)
            Int8DepthwiseConv.Convolve(Int8Tensor.Floats(py), Int8Tensor.AsCodes(pc, 1f, signed ? -128 : 0, signed ? 127 : 255), packed, pm, null, g, Activation.None);
        return output;
    }

    /// <summary>
    /// The float kernel's geometries, and rows of every length the sliding blocks and quad blocks meet (with and without
    /// padding): with AVX-VNNI those of 16 channels or more with 3-wide kernel rows at width stride 1 or 2 take the
    /// vpdpbusd form, the others the float one.
    /// </summary>
    public static TheoryData<ConvGeometry> Geometries
    {
        get
        {
            var geometries = new TheoryData<ConvGeometry>
            {
                new ConvGeometry(1, 3, 4, 21, 54, 54, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
                new ConvGeometry(2, 3, 3, 12, 16, 16, 3, 3, 3),
                new ConvGeometry(1, 2, 2, 30, 9, 9, 1, 3, 3, PadHeight: 1, PadWidth: 1),
                // Rows of 14, 7, 4, 2 and 1 positions (X3D's at 56x56) and one without padding: blocks of 8, 4, 2 and 1
                // that overlap at the row's end, with source columns in the padding on either side.
                new ConvGeometry(1, 2, 3, 14, 20, 20, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
                new ConvGeometry(2, 3, 7, 7, 17, 17, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
                new ConvGeometry(1, 3, 4, 4, 16, 16, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
                new ConvGeometry(2, 2, 2, 2, 33, 33, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
                new ConvGeometry(1, 2, 1, 1, 16, 16, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
                new ConvGeometry(1, 3, 5, 9, 18, 18, 3, 3, 3, PadDepth: 1),
                // Depth and height strides under the vpdpbusd form's window of rearranged rows; a width stride it does
                // not take (the float form runs).
                new ConvGeometry(2, 5, 7, 9, 24, 24, 3, 3, 3, StrideDepth: 2, StrideHeight: 2, PadDepth: 1, PadHeight: 1, PadWidth: 1),
                new ConvGeometry(1, 2, 4, 10, 16, 16, 3, 3, 3, StrideWidth: 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
                // A 1x3x3 kernel (one depth tap: a window of 2 · D + 1 rows) and a 3x1x3 one (height taps alone).
                new ConvGeometry(2, 3, 6, 11, 20, 20, 1, 3, 3, PadHeight: 1, PadWidth: 1),
                new ConvGeometry(1, 4, 5, 9, 17, 17, 3, 1, 3, StrideWidth: 2, PadDepth: 1, PadWidth: 1),
            };
            foreach (var row in DepthwiseConv3dTests.Geometries)
                geometries.Add(row);
            return geometries;
        }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void SumsEqualThePlainIntegerLoopsExactlyOnEveryPathAtEveryWidth(ConvGeometry g)
    {
        foreach (bool signed in new[] { false, true })
        {
            var random = new Random(g.GetHashCode() + (signed ? 1 : 0));
            // The extremes of both operands in every position of the first clip, random levels after it.
            var levels = Enumerable.Range(0, (int)g.InputLength).Select(i => i < g.InputLength / g.Batch
                ? (signed ? (i % 2 == 0 ? -128 : 127) : 255) : signed ? random.Next(-128, 128) : random.Next(256)).ToArray();
            var weights = Enumerable.Range(0, g.InChannels * g.KernelVolume).Select(i => i % 7 == 0 ? (sbyte)-127 : (sbyte)random.Next(-127, 128)).ToArray();
            var want = Reference(levels, weights, g).Select(sum => (float)sum).ToArray();
            foreach (var path in TestArrays.Int8Paths)
                foreach (int width in TestArrays.Widths)
                {
                    float[] got = [];
                    TestArrays.With(width, 2, path, () => got = Run(levels, weights, g, signed));
                    int first = -1;
                    for (int i = 0; i < want.Length && first < 0; i++)
                        first = want[i] != got[i] ? i : -1;
                    Assert.True(first < 0, $"{g} signed={signed} {path} width={width}: sum {first} is {(first < 0 ? 0 : got[first])}, the integer loops give {(first < 0 ? 0 : want[first])}");
                }
        }
    }

    /// <summary>Random u8 input codes (one byte of slack), packed weight levels, scales and biases for geometry g.</summary>
    static (byte[] Codes, Int8DepthwiseWeights Packed, float[] Multiplier, float[] Bias) RandomLayer(ConvGeometry g, int seed)
    {
        var random = new Random(seed);
        var codes = Enumerable.Range(0, (int)g.InputLength + 1).Select(_ => (byte)random.Next(256)).ToArray();
        var weights = Enumerable.Range(0, g.InChannels * g.KernelVolume).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();
        var multiplier = Enumerable.Range(0, g.InChannels).Select(_ => random.NextSingle() * 1e-4f).ToArray();
        var bias = Enumerable.Range(0, g.InChannels).Select(_ => random.NextSingle() - 0.5f).ToArray();
        return (codes, Int8DepthwiseConv.Pack(weights, g.InChannels, g.KernelVolume), multiplier, bias);
    }

    [Fact]
    public void CodesOutAreTheLevelsOfTheFloatsOnTheGrid()
    {
        var g = new ConvGeometry(2, 3, 5, 9, 21, 21, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1);
        var (codes, packed, multiplier, bias) = RandomLayer(g, seed: 5);
        foreach (var activation in new[] { Activation.None, Activation.Relu, Activation.Swish })
            foreach (var (lowest, highest) in new[] { (0f, 255f), (-128f, 127f) })
            {
                const float step = 0.013f;
                float[]? widest = null;
                // Every path and vector width: the 16-wide one-pass store and the 8-wide two-pass one give the same bits.
                foreach (var path in TestArrays.Int8Paths)
                    foreach (int width in TestArrays.Widths)
                    {
                        var floats = new float[g.OutputLength];
                        var outCodes = new byte[g.OutputLength];
                        TestArrays.With(width, 2, path, () =>
                        {
                            fixed (byte* pc = codes, po = outCodes)
                            fixed (float* pf = floats, pm = multiplier, pb = bias)
                            {
                                var x = Int8Tensor.AsCodes(pc, 0.02f, 0, 255);
                                Int8DepthwiseConv.Convolve(Int8Tensor.OnGrid(pf, step, lowest, highest), x, packed, pm, pb, g, activation);
                                Int8DepthwiseConv.Convolve(Int8Tensor.AsCodes(po, step, lowest, highest), x, packed, pm, pb, g, activation);
                            }
                        });
                        int shift = lowest < 0 ? 128 : 0;
                        Assert.Equal(floats, outCodes.Select(code => (code - shift) * step));
                        widest ??= floats;
                        Assert.Equal(widest, floats);
                    }
            }
    }

    /// <summary>
    /// The row sums a depthwise convolution takes as it writes give the global pool of its float output, at every width,
    /// and the same bits when the output goes out as codes instead (the squeeze-excitation case): sums of the floats,
    /// with the codes the levels of those floats.
    /// </summary>
    [Theory]
    [InlineData(11)]
    [InlineData(21)]
    public void RowSumsGiveTheGlobalPoolOfTheFloatOutputInEveryOutputForm(int channels)
    {
        // 11 channels take the 8-wide path at every width; 21 the 16-wide one where it runs, its last vector overlapping.
        var g = new ConvGeometry(2, 3, 9, 11, channels, channels, 3, 3, 3, StrideHeight: 2, StrideWidth: 2, PadDepth: 1, PadHeight: 1, PadWidth: 1);
        var (codes, packed, multiplier, bias) = RandomLayer(g, seed: 8);
        int rows = g.OutDepth * g.OutHeight;
        long positions = (long)rows * g.OutWidth;
        const float step = 0.011f;
        foreach (var activation in new[] { Activation.None, Activation.Swish })
            foreach (var path in TestArrays.Int8Paths)
                foreach (int width in TestArrays.Widths)
                    foreach (var (lowest, highest) in new[] { (0f, 255f), (-128f, 127f) })
                    {
                        var (output, outCodes) = (new float[g.OutputLength], new byte[g.OutputLength]);
                        var (rowSums, codeRowSums) = (new float[g.Batch * rows * g.InChannels], new float[g.Batch * rows * g.InChannels]);
                        var (want, got) = (new float[g.Batch * g.InChannels], new float[g.Batch * g.InChannels]);
                        TestArrays.With(width, 2, path, () =>
                        {
                            fixed (byte* pc = codes, po = outCodes)
                            fixed (float* py = output, ps = rowSums, pcs = codeRowSums, pm = multiplier, pb = bias, pw = want, pg = got)
                            {
                                var x = Int8Tensor.AsCodes(pc, 0.02f, 0, 255);
                                Int8DepthwiseConv.Convolve(Int8Tensor.Floats(py), x, packed, pm, pb, g, activation, ps);
                                Int8DepthwiseConv.Convolve(Int8Tensor.AsCodes(po, step, lowest, highest), x, packed, pm, pb, g, activation, pcs);
                                GlobalAveragePool.Forward(pw, py, g.Batch, positions, g.InChannels);
                                GlobalAveragePool.FromRowSums(pg, ps, g.Batch, rows, positions, g.InChannels);
                            }
                        });
                        for (int i = 0; i < want.Length; i++)
                            Assert.Equal(want[i], got[i], 1e-5f * MathF.Max(1, MathF.Abs(want[i])));
                        Assert.Equal(rowSums, codeRowSums);
                        int shift = lowest < 0 ? 128 : 0;
                        for (int i = 0; i < output.Length; i++)
                            Assert.True(outCodes[i] - shift == Math.Clamp(MathF.Round(output[i] / step), lowest, highest),
                                $"{path} width {width} {activation} output {i}: code {outCodes[i]} for {output[i]}");
                    }
    }
}
