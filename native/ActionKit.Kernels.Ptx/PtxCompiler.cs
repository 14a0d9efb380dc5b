using System.Reflection;
using ActionKit.Kernels.Gpu;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace ActionKit.Kernels.Ptx;

/// <summary>
/// Compiles every GPU kernel (each static method named ...Kernel in <c>ActionKit.Kernels.Gpu</c>) to PTX with
/// ILGPU's PTX backend, which needs no GPU.
/// </summary>
public sealed class PtxCompiler : IDisposable
{
    /// <summary>PTX ISA 7.8: the newest that the CUDA 11.8 ptxas accepts, and enough for sm_90.</summary>
    public static readonly CudaInstructionSet InstructionSet = CudaInstructionSet.ISA_78;

    readonly Context context = GpuKernels.CreateContext(_ => { });
    readonly PTXBackend backend;

    public PtxCompiler(CudaArchitecture architecture) =>
        backend = new PTXBackend(context, architecture, InstructionSet, null!);

    /// <summary>Every kernel, ordered by op and name.</summary>
    public static IReadOnlyList<MethodInfo> Kernels() =>
        typeof(GpuKernels).Assembly.GetTypes()
            .Where(type => type.Namespace == typeof(GpuKernels).Namespace)
            .SelectMany(type => type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(method => method.Name.EndsWith("Kernel", StringComparison.Ordinal))
            .OrderBy(Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>"Op.Kernel", e.g. "DepthwiseConv3d.ForwardKernel".</summary>
    public static string Name(MethodInfo kernel) => $"{kernel.DeclaringType!.Name}.{kernel.Name}";

    /// <summary>Implicitly grouped kernels take their element index first; the others launch with a KernelConfig.</summary>
    public static bool IsGrouped(MethodInfo kernel)
    {
        var parameters = kernel.GetParameters();
        return parameters.Length == 0 || parameters[0].ParameterType != typeof(Index1D);
    }

    /// <summary>The hot kernels (depthwise convolution, GEMM, batch normalization), which must not spill registers.</summary>
    public static bool IsHot(MethodInfo kernel) => IsHot(Name(kernel));

    public static bool IsHot(string name) =>
        name.StartsWith("DepthwiseConv3d.", StringComparison.Ordinal) || name.StartsWith("Gemm.", StringComparison.Ordinal)
        || name.StartsWith("BatchNorm.", StringComparison.Ordinal);

    /// <summary>The PTX module of one kernel.</summary>
    public string Compile(MethodInfo kernel)
    {
        var entry = IsGrouped(kernel)
            ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
        return ((PTXCompiledKernel)backend.Compile(entry, default(KernelSpecialization))).PTXAssembly;
    }

    public void Dispose()
    {
        backend.Dispose();
        context.Dispose();
    }
}
