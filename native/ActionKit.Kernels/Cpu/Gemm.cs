namespace ActionKit.Kernels.Cpu;

/// <summary>Single-precision matrix multiply on row-major, contiguous matrices.</summary>
public static unsafe class Gemm
{
    /// <summary>
    /// c[m,n] = (accumulate ? c : 0) + op(a)[m,k] · op(b)[k,n], where op(a) = a stored [m,k], or aᵀ with a stored
    /// [k,m] when <paramref name="transposeA"/>; likewise b stored [k,n], or [n,k] when <paramref name="transposeB"/>.
    /// </summary>
    public static void Multiply(float* c, float* a, float* b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (transposeA ? a[(long)p * m + i] : a[(long)i * k + p]) * (transposeB ? b[(long)j * k + p] : b[(long)p * n + j]);
                c[(long)i * n + j] = accumulate ? c[(long)i * n + j] + sum : sum;
            }
    }
}
