using ILGPU.Algorithms;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// The fused activations as device functions, inlined into the kernels that apply them (BatchNorm, ChannelScale):
/// the activation is a kernel argument, uniform across a launch, so its branch costs nothing.
/// </summary>
internal static class Activations
{
    public static float Forward(float v, Activation activation) => activation switch
    {
        Activation.Relu => Math.Max(v, 0f),
        Activation.Swish => v * Sigmoid(v),
        _ => v,
    };

    /// <summary>dy · f'(v): the gradient at the pre-activation v.</summary>
    public static float Backward(float dy, float v, Activation activation)
    {
        switch (activation)
        {
            case Activation.Relu:
                return v > 0 ? dy : 0f;
            case Activation.Swish:
                // d(v·s)/dv = s + v·s·(1 − s), s = sigmoid(v).
                float s = Sigmoid(v);
                return dy * s * (v * (1f - s) + 1f);
            default:
                return dy;
        }
    }

    public static float Sigmoid(float v) => 1f / (1f + XMath.Exp(-v));
}
