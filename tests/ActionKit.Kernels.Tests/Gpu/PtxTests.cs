using ActionKit.Kernels.Ptx;
using ILGPU.Runtime.Cuda;

namespace ActionKit.Kernels.Tests.Gpu;

/// <summary>
/// Without a GPU: every kernel compiles to PTX for sm_90 (H100/H200) and sm_80 (A100) with ILGPU's PTX backend, and
/// NVIDIA's ptxas assembles the sm_90 PTX with no errors and no register spills in the hot kernels.
/// </summary>
public sealed class PtxTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("actionkit-ptx-").FullName;

    [Fact]
    public void EveryKernelAssemblesForSm90WithoutSpillsInTheHotOnes()
    {
        string ptxas = Ptxas.Find(AppContext.BaseDirectory) ?? throw new InvalidOperationException(Ptxas.MissingMessage);
        var kernels = PtxCompiler.Kernels();
        Assert.Contains(kernels, kernel => PtxCompiler.Name(kernel) == "DepthwiseConv3d.ForwardKernel");
        using (var sm80 = new PtxCompiler(CudaArchitecture.SM_80))
            foreach (var kernel in kernels)
                Assert.Contains(".target sm_80", sm80.Compile(kernel));

        using var sm90 = new PtxCompiler(CudaArchitecture.SM_90);
        var files = kernels.Select(kernel =>
        {
            string file = Path.Combine(folder, PtxCompiler.Name(kernel) + ".ptx");
            File.WriteAllText(file, sm90.Compile(kernel));
            return (Kernel: kernel, File: file);
        }).ToList();
        var reports = files.AsParallel().WithDegreeOfParallelism(2)
            .Select(entry => (entry.Kernel, Report: Ptxas.Assemble(ptxas, entry.File, "sm_90"))).ToList();
        var spilling = reports.Where(entry => PtxCompiler.IsHot(entry.Kernel) && entry.Report.Spills).Select(entry => PtxCompiler.Name(entry.Kernel));
        Assert.Empty(spilling);
        Assert.Equal(kernels.Count, reports.Count);
    }

    [Fact]
    public void ReadsPtxasResourceReport()
    {
        const string log = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'Kernel' for 'sm_90'
            ptxas info    : Function properties for Kernel
                8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads
            ptxas info    : Used 40 registers, 8320 bytes smem, 384 bytes cmem[0]
            """;
        Assert.Equal(new PtxasReport(40, 8320, 8, 4, 12), Ptxas.Parse(log, "sample"));
        Assert.True(Ptxas.Parse(log, "sample").Spills);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
