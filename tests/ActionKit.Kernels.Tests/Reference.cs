namespace ActionKit.Kernels.Tests;

/// <summary>Plain-loop kernels, accumulated in double: the definitions the fast kernels are checked against.</summary>
public static class Reference
{
    public static void Multiply(float[] c, float[] a, float[] b, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * n + j] : 0;
                for (int p = 0; p < k; p++)
                    sum += (double)(transposeA ? a[p * m + i] : a[i * k + p]) * (transposeB ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = (float)sum;
            }
    }

    public static void DepthwiseForward(float[] output, float[] input, float[] weight, ConvGeometry g)
    {
        var sums = new double[g.OutputLength];
        VisitDepthwiseTaps(g, (outputIndex, inputIndex, weightIndex) => sums[outputIndex] += (double)input[inputIndex] * weight[weightIndex]);
        for (int i = 0; i < sums.Length; i++)
            output[i] = (float)sums[i];
    }

    public static void DepthwiseBackwardInput(float[] dInput, float[] dOutput, float[] weight, ConvGeometry g)
    {
        var sums = new double[g.InputLength];
        VisitDepthwiseTaps(g, (outputIndex, inputIndex, weightIndex) => sums[inputIndex] += (double)dOutput[outputIndex] * weight[weightIndex]);
        for (int i = 0; i < sums.Length; i++)
            dInput[i] = (float)sums[i];
    }

    public static void DepthwiseBackwardWeight(float[] dWeight, float[] dOutput, float[] input, ConvGeometry g)
    {
        var sums = dWeight.Select(w => (double)w).ToArray();
        VisitDepthwiseTaps(g, (outputIndex, inputIndex, weightIndex) => sums[weightIndex] += (double)dOutput[outputIndex] * input[inputIndex]);
        for (int i = 0; i < sums.Length; i++)
            dWeight[i] = (float)sums[i];
    }

    /// <summary>Dense convolution (groups 1): output, dInput (both overwritten) and dWeight (accumulated), weight [Cout, Cin, taps].</summary>
    public static void Conv3d(float[] output, float[] dInput, float[] dWeight, float[] input, float[] weight, float[] dOutput, ConvGeometry g)
    {
        var (sums, inputSums, weightSums) = (new double[g.OutputLength], new double[g.InputLength], dWeight.Select(w => (double)w).ToArray());
        for (int o = 0; o < g.OutChannels; o++)
            for (int i = 0; i < g.InChannels; i++)
                VisitTaps(g, (outputPosition, inputPosition, tap) =>
                {
                    long outputIndex = outputPosition * g.OutChannels + o, inputIndex = inputPosition * g.InChannels + i;
                    long weightIndex = ((long)o * g.InChannels + i) * g.KernelVolume + tap;
                    sums[outputIndex] += (double)input[inputIndex] * weight[weightIndex];
                    inputSums[inputIndex] += (double)dOutput[outputIndex] * weight[weightIndex];
                    weightSums[weightIndex] += (double)dOutput[outputIndex] * input[inputIndex];
                });
        for (long k = 0; k < sums.Length; k++)
            output[k] = (float)sums[k];
        for (long k = 0; k < inputSums.Length; k++)
            dInput[k] = (float)inputSums[k];
        for (long k = 0; k < weightSums.Length; k++)
            dWeight[k] = (float)weightSums[k];
    }

    // Calls visit(output index, input index, weight index) for every multiply-add of the depthwise forward pass.
    static void VisitDepthwiseTaps(ConvGeometry g, Action<long, long, long> visit)
    {
        int c = g.InChannels;
        for (int ch = 0; ch < c; ch++)
            VisitTaps(g, (outputPosition, inputPosition, tap) => visit(outputPosition * c + ch, inputPosition * c + ch, (long)ch * g.KernelVolume + tap));
    }

    // Calls visit(output position, input position, tap) for every kernel tap inside the input, positions counted
    // over N·D·H·W.
    static void VisitTaps(ConvGeometry g, Action<long, long, int> visit)
    {
        for (int n = 0; n < g.Batch; n++)
            for (int z = 0; z < g.OutDepth; z++)
                for (int y = 0; y < g.OutHeight; y++)
                    for (int x = 0; x < g.OutWidth; x++)
                        for (int kz = 0; kz < g.KernelDepth; kz++)
                            for (int ky = 0; ky < g.KernelHeight; ky++)
                                for (int kx = 0; kx < g.KernelWidth; kx++)
                                {
                                    int iz = z * g.StrideDepth - g.PadDepth + kz, iy = y * g.StrideHeight - g.PadHeight + ky, ix = x * g.StrideWidth - g.PadWidth + kx;
                                    if ((uint)iz >= (uint)g.InDepth || (uint)iy >= (uint)g.InHeight || (uint)ix >= (uint)g.InWidth)
                                        continue;
                                    long outputPosition = (((long)n * g.OutDepth + z) * g.OutHeight + y) * g.OutWidth + x;
                                    long inputPosition = (((long)n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth + ix;
                                    visit(outputPosition, inputPosition, (kz * g.KernelHeight + ky) * g.KernelWidth + kx);
                                }
    }
}
