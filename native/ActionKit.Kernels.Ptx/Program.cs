using ActionKit.Kernels.Ptx;
using ILGPU.Runtime.Cuda;

using var compiler = new PtxCompiler(CudaArchitecture.SM_90);
foreach (var kernel in PtxCompiler.Kernels())
    Console.WriteLine($"{PtxCompiler.Name(kernel)}: {compiler.Compile(kernel).Length} chars");
