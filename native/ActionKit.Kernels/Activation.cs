namespace ActionKit.Kernels;

/// <summary>The activation a kernel applies to its result (fused, so the pre-activation tensor is never written).</summary>
public enum Activation
{
    None,

    /// <summary>max(v, 0).</summary>
    Relu,

    /// <summary>v · sigmoid(v) (SiLU).</summary>
    Swish,
}
