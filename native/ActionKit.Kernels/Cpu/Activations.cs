using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>An activation as static members, so a fused kernel is written once and compiled for each one.</summary>
internal interface IActivation
{
    static abstract TVector Forward<TSimd, TVector>(TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct;

    /// <summary>dy · f'(v): the gradient at the pre-activation v.</summary>
    static abstract TVector Backward<TSimd, TVector>(TVector dy, TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct;
}

internal readonly struct Identity : IActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Forward<TSimd, TVector>(TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct => v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Backward<TSimd, TVector>(TVector dy, TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct => dy;
}

internal readonly struct ReluActivation : IActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Forward<TSimd, TVector>(TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct =>
        TSimd.Max(v, TSimd.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Backward<TSimd, TVector>(TVector dy, TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct =>
        TSimd.WherePositive(v, dy);
}

internal readonly struct SwishActivation : IActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Forward<TSimd, TVector>(TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct =>
        TSimd.Multiply(v, Sigmoid<TSimd, TVector>(v));

    // d(v·s)/dv = s + v·s·(1 − s), s = sigmoid(v).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVector Backward<TSimd, TVector>(TVector dy, TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        TVector s = Sigmoid<TSimd, TVector>(v), one = TSimd.Broadcast(1f);
        return TSimd.Multiply(TSimd.Multiply(dy, s), TSimd.MultiplyAdd(v, TSimd.Subtract(one, s), one));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVector Sigmoid<TSimd, TVector>(TVector v) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        return TSimd.Reciprocal(TSimd.Add(TSimd.Broadcast(1f), Simd.Exp<TSimd, TVector>(TSimd.Subtract(TSimd.Zero, v))));
    }
}

/// <summary>A kernel body written once for every activation and vector width.</summary>
internal interface IActivationKernel
{
    void Run<TActivation, TSimd, TVector>() where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct;
}

/// <summary>Runs an <see cref="IActivationKernel"/> with the activation an <see cref="Activation"/> names.</summary>
internal static class Activations
{
    /// <summary>Runs <paramref name="kernel"/> for <paramref name="activation"/> at the widest vector width (see <see cref="Simd.Run"/>).</summary>
    public static void Run<TKernel>(in TKernel kernel, Activation activation, int widthLimit = int.MaxValue) where TKernel : struct, IActivationKernel
    {
        switch (activation)
        {
            case Activation.None:
                var none = new Bound<TKernel, Identity>(kernel);
                Simd.Run(ref none, widthLimit);
                break;
            case Activation.Relu:
                var relu = new Bound<TKernel, ReluActivation>(kernel);
                Simd.Run(ref relu, widthLimit);
                break;
            case Activation.Swish:
                var swish = new Bound<TKernel, SwishActivation>(kernel);
                Simd.Run(ref swish, widthLimit);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    readonly struct Bound<TKernel, TActivation>(TKernel kernel) : ISimdKernel
        where TKernel : struct, IActivationKernel where TActivation : struct, IActivation
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct =>
            kernel.Run<TActivation, TSimd, TVector>();
    }
}
